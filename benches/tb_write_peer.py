"""The peer for tb-write: tensorboardX writing the same scalar events, timed.

Usage: python tb_write_peer.py LOGDIR N   (prints the seconds taken)
"""
import sys
import time

from tensorboardX import SummaryWriter

logdir, n = sys.argv[1], int(sys.argv[2])
start = time.perf_counter()
writer = SummaryWriter(logdir)
for step in range(n):
    writer.add_scalar("loss", 1.0 / (step + 1), step)
writer.close()
print(time.perf_counter() - start)
