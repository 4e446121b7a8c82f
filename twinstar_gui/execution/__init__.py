"""Order execution: the Executor protocol, paper trading, risk limits, the SQLite journal."""
