"""kalshi_lake.api"""
