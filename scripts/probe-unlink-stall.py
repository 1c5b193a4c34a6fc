#!/usr/bin/env python3
"""How deleting a large file delays another file's fdatasync on this machine's disk.

    python3 scripts/probe-unlink-stall.py unlink      # one unlink of a 512 MiB file
    python3 scripts/probe-unlink-stall.py steps 8     # cut down 8 MiB at a time, then unlink

A thread writes 4 KiB and fdatasyncs a preallocated file in a loop (as meterd's log does) while
the main thread deletes the large file; prints how long the deletion took and the longest
fdatasync during it. This is why SnapshotStore deletes old snapshots in steps
(FileOperations.unlinkGradually). Files go to a temporary directory under /tmp.
"""
import os
import sys
import tempfile
import threading
import time

directory = tempfile.mkdtemp(prefix="probe-unlink-")
big = os.path.join(directory, "big")
descriptor = os.open(big, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
blob = os.urandom(1 << 20) * 8
for _ in range(64):
    os.write(descriptor, blob)
os.fsync(descriptor)
os.close(descriptor)
log = os.open(os.path.join(directory, "log"), os.O_RDWR | os.O_CREAT)
os.posix_fallocate(log, 0, 64 << 20)
os.fsync(log)
latencies = []
stop = False


def syncer():
    offset = 0
    page = b"x" * 4096
    while not stop:
        began = time.perf_counter()
        os.pwrite(log, page, offset)
        os.fdatasync(log)
        latencies.append((began, time.perf_counter() - began))
        offset = (offset + 4096) % (64 << 20)
        time.sleep(0.0005)


thread = threading.Thread(target=syncer)
thread.start()
time.sleep(0.5)
started = time.perf_counter()
if sys.argv[1:2] == ["steps"]:
    step = int(sys.argv[2]) << 20
    handle = os.open(big, os.O_WRONLY)
    size = os.fstat(handle).st_size
    while size > step:
        size -= step
        os.ftruncate(handle, size)
        time.sleep(0.002)
    os.close(handle)
os.unlink(big)
ended = time.perf_counter()
time.sleep(0.5)
stop = True
thread.join()
during = [latency for began, latency in latencies if started - 0.05 <= began <= ended + 0.05]
print(f"{' '.join(sys.argv[1:])}: deletion took {(ended - started) * 1e3:.1f} ms; longest fdatasync during it "
      f"{max(during) * 1e3:.1f} ms; longest overall {max(l for _, l in latencies) * 1e3:.1f} ms")
os.close(log)
for name in os.listdir(directory):
    os.unlink(os.path.join(directory, name))
os.rmdir(directory)
