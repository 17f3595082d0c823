"""The classifier: one scikit-learn Pipeline that owns every step from raw Slack text to a label.

normalise Slack markup -> word + character n-gram TF-IDF -> linear SVM with sigmoid-calibrated
probabilities -> an explicit abstain rule that answers `none` unless some cause is likely enough.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from model.decide import decide
from model.labels import NONE
from model.text import normalize

DEFAULT_THRESHOLD = 0.35


def normalize_all(texts):
    return [normalize(t) for t in texts]


class AbstainingClassifier(ClassifierMixin, BaseEstimator):
    """Wraps a probabilistic classifier; answers `none` when no cause reaches `threshold`.

    Favouring precision on friction: Truce must not lecture people about ordinary chatter.
    """

    def __init__(self, estimator=None, threshold: float = DEFAULT_THRESHOLD, none_label: str = NONE):
        self.estimator = estimator
        self.threshold = threshold
        self.none_label = none_label

    def fit(self, X, y, sample_weight=None):
        self.estimator_ = clone(self.estimator).fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)

    def decide(self, proba: np.ndarray) -> np.ndarray:
        return decide(proba, self.classes_, self.threshold, self.none_label)

    def predict(self, X):
        return self.decide(self.predict_proba(X))


def build_pipeline(
    threshold: float = DEFAULT_THRESHOLD,
    c: float = 0.5,
    random_state: int = 0,
    char_ngrams: tuple[int, int] = (2, 5),
) -> Pipeline:
    words = TfidfVectorizer(
        analyzer="word",
        token_pattern=r"(?u)\b[\w']+\b",
        ngram_range=(1, 2),
        min_df=2,
        sublinear_tf=True,
        lowercase=False,
    )
    chars = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=char_ngrams,
        min_df=3,
        max_features=60000,
        sublinear_tf=True,
        lowercase=False,
    )
    svm = LinearSVC(C=c, class_weight="balanced", random_state=random_state, max_iter=5000)
    calibrated = CalibratedClassifierCV(svm, method="sigmoid", cv=5, ensemble=False)
    return Pipeline(
        [
            ("normalize", FunctionTransformer(normalize_all)),
            ("features", FeatureUnion([("words", words), ("chars", chars)])),
            ("classify", AbstainingClassifier(calibrated, threshold=threshold)),
        ]
    )


def slim(pipeline: Pipeline) -> Pipeline:
    """Drop what prediction never needs (the pruned-term sets can be megabytes)."""
    for _, vectorizer in pipeline.named_steps["features"].transformer_list:
        if hasattr(vectorizer, "stop_words_"):
            vectorizer.stop_words_ = None
    return pipeline
