"""live.motion"""
