"""Drive a program on a pseudo-terminal, as a person at a terminal would.

Usage: python3 pty-driver.py STEPS_JSON -- PROGRAM ARGS...

The program starts in a new session with the pty as its controlling terminal
(rows x cols from the first "size" step, else 24 x 80). STEPS_JSON is a list
of steps, run in order:
  {"send": TEXT}                 write TEXT to the terminal (\x03 is Ctrl-C)
  {"expect": REGEX, "timeout": S} wait until the output since the last match
                                  matches REGEX (default 10 s)
  {"size": [ROWS, COLS]}         resize the terminal (the kernel sends SIGWINCH)
  {"sleep": S}                   wait S seconds
Prints one JSON line: {"ok", "failed" (the step index or null), "why",
"status" (exit status, or 128+signal), "transcript"}.
"""

import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    steps = json.loads(sys.argv[1])
    argv = sys.argv[sys.argv.index("--") + 1 :]
    master, slave = os.openpty()
    first = next((s["size"] for s in steps if "size" in s), [24, 80])
    set_size(slave, *first)

    def child_setup():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, preexec_fn=child_setup, close_fds=True)
    os.close(slave)
    transcript = b""
    seen = 0  # output before this offset is consumed by earlier expects
    failed, why = None, None

    def read_some(deadline):
        nonlocal transcript
        left = max(0.0, deadline - time.monotonic())
        r, _, _ = select.select([master], [], [], min(left, 0.1))
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if not data:
                return False
            transcript += data
        return True

    for i, step in enumerate(steps):
        if "send" in step:
            os.write(master, step["send"].encode())
        elif "expect" in step:
            deadline = time.monotonic() + step.get("timeout", 10)
            pattern = re.compile(step["expect"].encode())
            while True:
                m = pattern.search(transcript, seen)
                if m:
                    seen = m.end()
                    break
                if time.monotonic() >= deadline or not read_some(deadline):
                    if not pattern.search(transcript, seen):
                        failed, why = i, "expected %r, not seen" % step["expect"]
                    break
            if failed is not None:
                break
        elif "size" in step:
            if i > 0 or step["size"] != first:
                set_size(master, *step["size"])
        elif "sleep" in step:
            deadline = time.monotonic() + step["sleep"]
            while time.monotonic() < deadline and read_some(deadline):
                pass

    # Collect the rest of the output and the exit status.
    deadline = time.monotonic() + 10
    while proc.poll() is None and time.monotonic() < deadline:
        read_some(deadline)
    if proc.poll() is None:
        if failed is None:
            failed, why = len(steps), "the program did not exit"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline and read_some(deadline):
        pass
    status = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
    print(json.dumps({"ok": failed is None, "failed": failed, "why": why, "status": status, "transcript": transcript.decode("utf8", "replace")}))


if __name__ == "__main__":
    main()
