"""live.control"""
