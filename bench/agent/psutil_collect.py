"""The same figures as `srvutil-agent collect`, the way a psutil script would collect them.

CPU over a short window (argv[1] seconds), memory (total, available, used = total - available),
and per real filesystem total / used / free (psutil.disk_usage: used = df Used, free = df Avail).
"""
import sys
import time

import psutil

window = float(sys.argv[1]) if len(sys.argv) > 1 else 0.1
cpu = psutil.cpu_percent(interval=window)
mem = psutil.virtual_memory()
ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
print("timestamp,server,cpu_percent,mem_total_bytes,mem_used_bytes,mem_available_bytes,disk_mount,disk_total_bytes,disk_used_bytes,disk_free_bytes")
for part in psutil.disk_partitions(all=False):
    usage = psutil.disk_usage(part.mountpoint)
    print(f"{ts},psutil,{cpu},{mem.total},{mem.total - mem.available},{mem.available},{part.mountpoint},{usage.total},{usage.used},{usage.free}")
