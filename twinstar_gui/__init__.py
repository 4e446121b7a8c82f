"""TwinStar: a desktop trading terminal for crypto traders."""
import os

__version__ = "0.1.0"

# Arrow's allocator: the system's. Its default (mimalloc) kept ~9 MiB of a 115 MiB collector between writes that
# come every 15 minutes, and the dataset's reads and writes are no slower with malloc (bench/bench_store.py). Set
# before pyarrow is first imported; a user's own setting wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
