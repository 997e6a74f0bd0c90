"""kalshi_lake.transform"""
