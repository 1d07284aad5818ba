"""live.audio"""
