"""Three children, each under the per-process limit, together past the tree's limit."""

import os
import sys
import time

mb = int(sys.argv[1])
pids = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        block = bytearray(mb * 1024 * 1024)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(10)
        os._exit(0)
    pids.append(pid)
for pid in pids:
    os.waitpid(pid, 0)
print("ALL CHILDREN FINISHED")
