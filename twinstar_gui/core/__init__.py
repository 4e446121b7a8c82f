"""Pure trading domain: candles, timeframes, events, resampling, indicators. Imports nothing of ours.

Import from the submodules (`core.models`, `core.timeframe`, ...): this package imports none of them, so that
reading a setting or an error class does not pay for pandas (core.resample) or numpy (core.indicators)."""
