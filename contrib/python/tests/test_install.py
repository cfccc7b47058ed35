"""`pip install ./contrib/python`, offline, in a fresh venv that sees Debian's
python3-protobuf: the build generates uhw_pb2, and the installed uhw-wsgi serves."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from support import kinds, request, run_worker

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


class PipInstallTest(unittest.TestCase):
    def test_pip_install_offline(self):
        with tempfile.TemporaryDirectory() as tmp:
            # A copy with the repository's layout (setup.py finds ../../proto/uhw.proto), so
            # the build's own files (build/, *.egg-info) stay out of the source tree.
            src = os.path.join(tmp, "src")
            shutil.copytree(os.path.join(REPO, "contrib", "python"), os.path.join(src, "contrib", "python"),
                            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"))
            os.makedirs(os.path.join(src, "proto"))
            shutil.copy(os.path.join(REPO, "proto", "uhw.proto"), os.path.join(src, "proto"))
            venv = os.path.join(tmp, "venv")
            subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv], check=True)
            env = dict(os.environ, PIP_NO_INDEX="1", PIP_NO_CACHE_DIR="1",
                       PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONPATH="")
            pip = subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--no-build-isolation",
                                  os.path.join(src, "contrib", "python")],
                                 env=env, capture_output=True, text=True, timeout=300)
            self.assertEqual(pip.returncode, 0, pip.stdout + pip.stderr)

            where = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                                    "import uhw, uhw.uhw_pb2; print(uhw.__file__); print(uhw.uhw_pb2.__file__)"],
                                   env=env, capture_output=True, text=True, cwd=tmp)
            self.assertEqual(where.returncode, 0, where.stderr)
            for path in where.stdout.split():
                self.assertTrue(path.startswith(os.path.join(venv, "lib")), path)

            app_dir = os.path.join(tmp, "app")
            os.makedirs(app_dir)
            with open(os.path.join(app_dir, "hello.py"), "w") as f:
                f.write("def app(environ, start_response):\n"
                        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
                        "    return [b'hello from the venv']\n")
            rc, out, err = run_worker([os.path.join(venv, "bin", "uhw-wsgi"), "hello:app"], [request(id=1)],
                                      cwd=app_dir, env={"PYTHONPATH": ""})
            self.assertEqual(rc, 0, err)
            self.assertEqual(kinds(out), ["ready", "response"], err)
            self.assertEqual(out[1].response.body, b"hello from the venv")


if __name__ == "__main__":
    unittest.main()
