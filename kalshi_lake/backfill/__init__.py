"""kalshi_lake.backfill"""
