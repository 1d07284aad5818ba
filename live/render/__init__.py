"""live.render"""
