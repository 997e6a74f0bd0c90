"""kalshi_lake.sim"""
