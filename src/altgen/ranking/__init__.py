"""Finding the photo a request asks for: the ranker, its Korean-English glossary and broader words, and the embedding cache."""
