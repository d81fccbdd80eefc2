"""External programs some tests drive (Debian packages, never run-time dependencies).

A developer without them gets those tests skipped; CI (``CI`` set in the environment)
must have them, so there a missing tool is an error, never a silent skip.
"""
from __future__ import annotations

import os
import shutil
from typing import Optional


def external_tool(name: str, package: str) -> Optional[str]:
    """The path of ``name``, or None outside CI; raise in CI when it is missing."""
    path = shutil.which(name)
    if path is None and os.environ.get("CI"):
        raise RuntimeError(f"CI needs {name} (apt-get install {package}); .ci/run installs it")
    return path
