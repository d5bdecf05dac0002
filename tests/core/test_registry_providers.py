"""The backend registry finds the fused kernels by itself: no import of ``neuroplastic.kernels``
by the user (or by ``neuroplastic/__init__``) is needed, and third-party packages plug in through
the ``neuroplastic.backends`` entry-point group."""
from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str, env_path: str | None = None) -> str:
    cmd = [sys.executable, "-c", textwrap.dedent(code)]
    env = None
    if env_path is not None:
        import os

        env = dict(os.environ, PYTHONPATH=env_path + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_kernels_register_on_first_lookup_not_on_import():
    out = _run("""
        import sys
        import neuroplastic
        before = 'neuroplastic.kernels' in sys.modules
        from neuroplastic._core.registry import available_backends
        names = available_backends('lif_sequence', 'cpu')
        print(before, 'neuroplastic.kernels' in sys.modules, names[0], names[-1])
    """)
    assert out == "False True cpu_fused reference"


def test_entry_point_plugin_is_loaded(tmp_path):
    """A package declaring ``[neuroplastic.backends]`` in its metadata gets its kernel registered."""
    (tmp_path / "myplugin.py").write_text(textwrap.dedent("""
        from neuroplastic._core.registry import register_backend

        @register_backend("lif_sequence", "my_plugin", device_types=("cpu",), priority=99)
        def fused(x, state, params, dt):
            raise NotImplementedError
    """))
    dist = tmp_path / "myplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[neuroplastic.backends]\nmine = myplugin\n")
    out = _run("""
        from neuroplastic._core.registry import available_backends
        print(available_backends('lif_sequence', 'cpu')[0])
    """, env_path=str(tmp_path))
    assert out == "my_plugin"


def test_broken_plugin_warns_and_the_library_still_works(tmp_path):
    (tmp_path / "badplugin.py").write_text("raise ImportError('boom')\n")
    dist = tmp_path / "badplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: badplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[neuroplastic.backends]\nbad = badplugin\n")
    out = _run("""
        import warnings
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            from neuroplastic._core.registry import available_backends
            names = available_backends('lif_sequence', 'cpu')
        print(names[0], any('badplugin' in str(x.message) and 'boom' in str(x.message) for x in w))
    """, env_path=str(tmp_path))
    assert out == "cpu_fused True"
