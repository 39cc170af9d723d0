"""Leaves a detached grandchild (new session, double fork) that tries to write after the run."""

import os
import subprocess
import sys
import time
from pathlib import Path

if sys.argv[1] == "grandchild":
    token, work = sys.argv[2], Path(sys.argv[3])
    time.sleep(2.0)
    for t in [work / "answers" / "detached" / "late.txt", Path("/tmp/late.txt")]:
        try:
            t.write_text("written after the run")
            print("LATE WRITE", t, flush=True)
        except OSError:
            pass
    time.sleep(60)
else:
    token = sys.argv[1]
    if os.fork() == 0:
        subprocess.Popen(
            [sys.executable, __file__, "grandchild", token, sys.argv[-1]],
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os._exit(0)
    os.wait()
    print("DETACHED", token)
