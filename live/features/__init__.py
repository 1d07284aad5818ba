"""live.features: the causal aubio feature engine (one Analyzer, fed every hop).

    from live.features import Analyzer, analyze_file
    an = Analyzer(sample_rate_hz=44100)
    frame = an.process(hop)          # (512,) float32 -> FeatureFrame
"""
from live.features.analyzer import Analyzer
from live.features.file_analysis import AnalysisResult, analyze_array, analyze_file, analyze_source

__all__ = ["Analyzer", "AnalysisResult", "analyze_array", "analyze_file", "analyze_source"]
