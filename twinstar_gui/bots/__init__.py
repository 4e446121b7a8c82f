"""Trading bots: UnifiedBot, AutoScanner, MultiTrader; they emit orders through an Executor."""
