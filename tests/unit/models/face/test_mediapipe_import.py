"""models._mediapipe: mediapipe is imported without matplotlib, and matplotlib still works afterwards."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_mediapipe_imports_without_matplotlib_and_drawing_still_works() -> None:
    out = _run(
        """
        import sys
        from models._mediapipe import import_mediapipe
        mp = import_mediapipe()
        print("loaded", "matplotlib" in sys.modules, "matplotlib.pyplot" in sys.modules)
        assert hasattr(mp.solutions.face_mesh, "FaceMesh")
        import matplotlib
        import matplotlib.pyplot as plt
        assert type(sys.modules["matplotlib"]).__name__ == "module" and plt.__name__ == "matplotlib.pyplot"
        fig = mp.solutions.drawing_utils.plt.figure()  # mediapipe's own pyplot reference loads the real one
        print("figure", type(fig).__name__, mp.solutions.drawing_utils.plt.figure is plt.figure)
        """
    )
    assert "loaded False False" in out
    assert "figure Figure True" in out


def test_plain_import_when_matplotlib_is_already_loaded() -> None:
    out = _run(
        """
        import matplotlib.pyplot as plt
        from models._mediapipe import import_mediapipe
        mp = import_mediapipe()
        print(mp.solutions.drawing_utils.plt is plt)
        """
    )
    assert out.strip() == "True"
