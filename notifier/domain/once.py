"""``once``: a value worked out on first use and kept on the instance, as
``functools.cached_property`` does, without its lock.

Python 3.11's ``cached_property`` takes a lock on every first use (removed in 3.12: it
serialised every instance of a class, not one). The planner asks tens of thousands of
standings for their stage, tier, due step and channel each tick; the lock costs about
1 µs of each first use. The values here are pure functions of the instance, so two
threads working one out at once only do the same work twice and keep equal results.

Like ``cached_property`` it is a non-data descriptor: once worked out, the value sits in
the instance's ``__dict__`` and is read from there with no call at all (so it works on
frozen dataclasses too, and ``del`` forgets it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class once(Generic[T]):  # noqa: N801 - used as a decorator, named like cached_property
    def __init__(self, func: Callable[[Any], T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> once[T]: ...
    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...
    def __get__(self, instance: object | None, owner: type | None = None) -> T | once[T]:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.name] = value
        return value
