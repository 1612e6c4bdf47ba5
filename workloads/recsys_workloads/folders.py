"""Publishing a fully written folder in place of an older one, never leaving a half state."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path


def swap_into_place(staged: Path, dest: Path) -> Path:
    """Move `staged` to `dest`; an existing `dest` is renamed aside first and then removed.

    Both renames stay on one filesystem (callers stage beside `dest`), so a reader sees the
    old folder or the new one, never a mixture.
    """
    if dest.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{dest.name}.retired-", dir=dest.parent))
        dest.replace(retired / dest.name)
        staged.replace(dest)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        staged.replace(dest)
    return dest
