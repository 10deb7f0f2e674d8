from dataclasses import dataclass

from notifier.domain.once import once


@dataclass(frozen=True)
class Counted:
    base: int
    calls: list[int]

    @once
    def doubled(self) -> int:
        """Twice the base."""
        self.calls.append(self.base)
        return self.base * 2


def test_a_value_is_worked_out_on_first_use_and_kept_on_the_instance() -> None:
    one = Counted(3, [])
    assert one.doubled == 6
    assert one.doubled == 6
    assert one.calls == [3]  # worked out once
    assert one.__dict__["doubled"] == 6  # kept where cached_property keeps it


def test_each_instance_works_out_its_own_value() -> None:
    a, b = Counted(1, []), Counted(5, [])
    assert (a.doubled, b.doubled) == (2, 10)
    assert (a.calls, b.calls) == ([1], [5])


def test_forgetting_the_value_works_it_out_again() -> None:
    one = Counted(4, [])
    assert one.doubled == 8
    del one.__dict__["doubled"]
    assert one.doubled == 8
    assert one.calls == [4, 4]


def test_the_class_attribute_is_the_descriptor_with_its_doc() -> None:
    assert isinstance(Counted.doubled, once)
    assert Counted.doubled.__doc__ == "Twice the base."
