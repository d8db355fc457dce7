"""An ordinary HTTP client, knowing nothing of faultline: it fetches URL
every INTERVAL seconds and prints what it saw, one line per attempt.

    client.py URL INTERVAL STOP_FILE MAX_SECONDS

Each line reads "+SECONDS attempt N: RESULT", where RESULT is one of
  ok 200                     - the server answered
  refused by the server      - ECONNREFUSED: a real connection attempt failed
  rejected by the breaker    - EHOSTUNREACH: run.sh sets the breaker's
                               reject_errno to it, so a fast failure that
                               never left the process can be told apart
  error ...                  - anything else
It stops when STOP_FILE exists, or after MAX_SECONDS.
"""
import errno
import os
import sys
import time
import urllib.error
import urllib.request

url, interval, stop_file, max_seconds = sys.argv[1], float(sys.argv[2]), sys.argv[3], float(sys.argv[4])
start = time.monotonic()
n = 0
while not os.path.exists(stop_file) and time.monotonic() - start < max_seconds:
    n += 1
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            result = "ok %d" % r.status
    except urllib.error.URLError as e:
        code = getattr(e.reason, "errno", None)
        if code == errno.ECONNREFUSED:
            result = "refused by the server (ECONNREFUSED)"
        elif code == errno.EHOSTUNREACH:
            result = "rejected by the breaker (EHOSTUNREACH, no packet sent)"
        else:
            result = "error %s" % (e.reason,)
    print("+%5.2fs attempt %d: %s" % (time.monotonic() - start, n, result), flush=True)
    time.sleep(interval)
