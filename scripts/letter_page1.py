"""Draw page 1 of a sample formal letter as docs/letter-page1.png (issue 15's closing note).

A throwaway SQLite database gets one business customer 20 days overdue with a postal
address; the planner drafts its formal demand as a letter, a reviewer approves it, the
letter is printed as PDF with a specimen seal (drawn here, marked 样章 SPECIMEN: never a
real company's seal), and Debian's pdftoppm (poppler-utils, `make browser`) draws page 1.

    .venv/bin/python scripts/letter_page1.py [OUT.png]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select
from sqlmodel import col

from notifier.domain.calendar import WorkCalendar
from notifier.letters.pdf import CJK_FONT
from notifier.render import Renderer
from notifier.services import letters
from notifier.services.review import approve
from notifier.settings import load_policy
from notifier.store.db import make_engine, unit_of_work
from notifier.store.migrate import upgrade
from notifier.store.models import Customer, Receivable, Reminder, User
from notifier.sweeps.context import SweepContext
from notifier.sweeps.plan import plan

ROOT = Path(__file__).resolve().parent.parent
AT = datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
T0 = datetime(2026, 1, 1, tzinfo=UTC)
RED = (200, 16, 16, 255)


def specimen_seal(path: Path, name: str) -> None:
    """A round red seal: the company name around a star, 样章 SPECIMEN across it."""
    size = 480
    seal = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    draw = ImageDraw.Draw(seal)
    draw.ellipse((12, 12, size - 12, size - 12), outline=RED, width=16)
    font = ImageFont.truetype(str(CJK_FONT), 52, index=0)
    star = [
        (240 + r * _cos(a), 240 - r * _sin(a))
        for i, a in enumerate(range(90, 450, 36))
        for r in ((70 if i % 2 == 0 else 28),)
    ]
    draw.polygon(star, fill=RED)
    chars = list(name)
    span = 210.0
    for i, ch in enumerate(chars):
        angle = 90 + span / 2 - span * i / max(len(chars) - 1, 1)
        glyph = Image.new("RGBA", (70, 70), (255, 255, 255, 0))
        ImageDraw.Draw(glyph).text((35, 35), ch, font=font, fill=RED, anchor="mm")
        glyph = glyph.rotate(angle - 90, resample=Image.Resampling.BICUBIC)
        x, y = 240 + 172 * _cos(angle), 240 - 172 * _sin(angle)
        seal.alpha_composite(glyph, (int(x - 35), int(y - 35)))
    small = ImageFont.truetype(str(CJK_FONT), 30, index=0)
    draw.text((240, 345), "样章 SPECIMEN", font=small, fill=RED, anchor="mm")
    seal.save(path)


def _cos(degrees: float) -> float:
    import math

    return math.cos(math.radians(degrees))


def _sin(degrees: float) -> float:
    import math

    return math.sin(math.radians(degrees))


def main(out: Path) -> None:
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        sys.exit("pdftoppm is missing: install Debian's poppler-utils (make browser)")
    policy = load_policy(ROOT / "config" / "notifier.toml")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seal = folder / "seal.png"
        specimen_seal(seal, policy.creditor.name_for("zh-CN"))
        policy = policy.model_copy(
            update={"letters": policy.letters.model_copy(update={"seal_image": str(seal)})}
        )
        engine = make_engine(f"sqlite:///{folder / 'letter.db'}")
        upgrade(engine)
        with unit_of_work(engine) as s:
            s.add(
                Customer(
                    id="C1001",
                    name="上海远航贸易有限公司",
                    kind="business",
                    email="ap@yuanhang.example",
                    address="上海市黄浦区中山东一路1号",
                    created_at=T0,
                    updated_at=T0,
                )
            )
            s.add(User(name="wang", role="reviewer", created_at=T0))
            s.flush()
            for rid, cents, issued, due in (
                ("INV-2026-0117", 3_000_000, date(2026, 1, 1), date(2026, 2, 10)),
                ("INV-2026-0142", 1_250_050, date(2026, 1, 10), date(2026, 2, 20)),
            ):
                s.add(
                    Receivable(
                        id=rid,
                        customer_id="C1001",
                        amount_cents=cents,
                        issued_on=issued,
                        due_on=due,
                        created_at=T0,
                        updated_at=T0,
                    )
                )
        calendar = WorkCalendar(policy.calendar)
        plan(
            engine,
            AT,
            SweepContext(policy=policy, calendar=calendar, renderer=Renderer()),
            force=True,
        )
        with unit_of_work(engine) as s:
            rid = s.scalars(select(col(Reminder.id)).where(col(Reminder.channel) == "letter")).one()
            approve(s, [rid], "wang", AT, policy, calendar)
        with unit_of_work(engine) as s:
            pdf = letters.pdf(s, rid, policy).pdf
        (folder / "letter.pdf").write_bytes(pdf)
        subprocess.run(
            [
                pdftoppm,
                "-png",
                "-r",
                "110",
                "-f",
                "1",
                "-l",
                "1",
                "-singlefile",
                str(folder / "letter.pdf"),
                str(folder / "page"),
            ],
            check=True,
        )
        shutil.copyfile(folder / "page.png", out)
        engine.dispose()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "letter-page1.png")
