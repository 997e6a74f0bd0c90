"""kalshi_lake.sql"""
