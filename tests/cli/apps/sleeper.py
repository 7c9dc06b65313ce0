"""Prints its pid (and its child's, with --child) and waits to be stopped.
With --ignore-term it ignores SIGTERM, so only SIGKILL ends it."""

import os
import signal
import subprocess
import sys
import time

if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
if "--child" in sys.argv:
    child = subprocess.Popen(["sleep", "300"])
    print(f"CHILD {child.pid}", flush=True)
print(f"PID {os.getpid()}", flush=True)
while True:
    time.sleep(1)
