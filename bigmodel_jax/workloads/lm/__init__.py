"""Language modelling: next-token training, evaluation in bits per character, sampling."""
