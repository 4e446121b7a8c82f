"""Local exchange simulator speaking each exchange's wire formats (powers --demo and end-to-end tests).

Generic parts: clock.SimClock (simulated time), market.Market (seeded steps -> candles/tickers/trades),
server.SimServer/SimThread (one port, path prefix per exchange). Exchange formats: bybit.py.
"""
