"""The bot flows the Bots panel offers: shown name -> the flow id `twinstar bot` and the trading presenter take.
A module of its own so the window can build its panels before the trading back end is imported."""

FLOWS = {"UnifiedBot": "unified", "AutoScanner": "scanner", "MultiTrader": "multi"}
