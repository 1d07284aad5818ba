"""live.gen"""
