"""The Evaluators' side: the score definitions, TFMA metrics, EvalConfig and extractors."""
