"""live.features"""
