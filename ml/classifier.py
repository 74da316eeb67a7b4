"""Runtime waste classifier: TFLite backbone + numpy head (no TensorFlow import), with the
nearest-neighbour memory (:mod:`ml.memory`) of the model's ``exemplars.npz`` when it has one,
and the second model of its ``second/`` folder, asked when the first is not sure enough
(:mod:`ml.second_opinion`).

Thread-safe: every thread gets its own TFLite interpreter (the second model keeps one, shared
under a lock: it answers a share of the photos only); :meth:`Classifier.reload`
swaps the whole model bundle atomically, calls in flight finish on the old one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ml.embeddings import Backbone
from ml.head import Head
from ml.image_io import decode_image
from ml.memory import EXEMPLARS_FILE, MAX_USER_ENTRIES, Exemplars, Memory
from ml.model_folder import SECOND_DIR
from ml.preprocess import preprocess
from ml.second_opinion import SecondOpinion

TOP_K = 3


@dataclass(frozen=True)
class Prediction:
    """Best label, its probability, the top-3 (label, probability) pairs, the version of
    the model that made it (a hot reload may switch models while an answer is on its way) and
    whether its second model was asked."""

    label: str
    confidence: float
    top: tuple[tuple[str, float], ...]
    model: str
    second_asked: bool = False


class _Bundle:
    """One loaded model directory (immutable once built, but for its memory's users' entries)."""

    def __init__(self, model_dir: Path, memory_capacity: int, shared: bool = False) -> None:
        """``shared``: one interpreter for all threads, used under a lock (for a model that
        answers a share of the photos only), instead of one per thread."""
        self.dir = Path(model_dir)
        self.card: dict[str, Any] = json.loads((self.dir / "model.json").read_text())
        self.classes: tuple[str, ...] = tuple(self.card["classes"])
        self.version = str(self.card["version"])
        self.tflite = self.dir / "backbone.tflite"
        self.head = Head.load(self.dir / "head.npz").masking(
            self.classes, self.card.get("untrained_classes", [])
        )
        if self.head.W.shape[1] != len(self.classes):
            raise ValueError("head.npz and model.json disagree on the number of classes")
        self._local = threading.local()
        self._shared = threading.Lock() if shared else None
        self._one: Backbone | None = None
        # fail fast on a broken file; the loading thread keeps no interpreter it may not use
        self.backbone_id = Backbone(self.tflite, num_threads=1).id
        self.memory = self._memory(memory_capacity)
        self.second: tuple[SecondOpinion, _Bundle] | None = None
        rule = SecondOpinion.from_card(self.card)
        if rule is not None:
            # its memory holds its exemplars only: users' entries teach the first model
            second = _Bundle(self.dir / SECOND_DIR, 0, shared=True)
            if second.classes != self.classes:
                raise ValueError("the second model does not answer with the same classes")
            self.second = (rule, second)

    def _memory(self, capacity: int) -> Memory | None:
        """The memory of ``exemplars.npz``; None without the file or for another backbone."""
        path = self.dir / EXEMPLARS_FILE
        if not path.exists():
            return None
        exemplars = Exemplars.load(path)
        return Memory(exemplars, capacity) if exemplars.backbone == self.backbone_id else None

    def embed(self, array: np.ndarray) -> np.ndarray:
        """The backbone's embedding [D] of a preprocessed image, by this thread's interpreter
        or by the shared one."""
        if self._shared is None:
            backbone: Backbone | None = getattr(self._local, "backbone", None)
            if backbone is None:
                backbone = self._local.backbone = Backbone(self.tflite, num_threads=1)
            return backbone.embed(array)
        with self._shared:
            if self._one is None:
                self._one = Backbone(self.tflite, num_threads=1)
            return self._one.embed(array)

    def voter(self, embeddings: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """Blends probabilities [N, C] of ``embeddings`` [N, D] with the memory's neighbours,
        found once (:meth:`ml.memory.Memory.voter`); unchanged without a memory."""
        return (lambda proba: proba) if self.memory is None else self.memory.voter(embeddings)

    def answer(self, embeddings: np.ndarray) -> np.ndarray:
        """Class probabilities [N, C] of embeddings [N, D]: the head, blended with the memory."""
        return self.voter(embeddings)(self.head.predict_proba(embeddings))

    def probabilities(self, array: np.ndarray) -> tuple[np.ndarray, bool]:
        """Class probabilities [C] of a preprocessed image: the head blended with the memory,
        or, when the rule asks the second model, the memory blended into the mean of the head
        and the second model's answer (then True)."""
        embedding = self.embed(array)[None]
        head = self.head.predict_proba(embedding)
        remember = self.voter(embedding)
        proba = remember(head)
        if self.second is None or not self.second[0].asked(proba)[0]:
            return np.asarray(proba[0]), False
        rule, second = self.second
        mixed = rule.mix(head, second.answer(second.embed(array)[None]))
        return np.asarray(remember(mixed)[0]), True

    def predict(self, array: np.ndarray) -> Prediction:
        proba, asked = self.probabilities(array)
        order = np.argsort(-proba)[:TOP_K]
        top = tuple((self.classes[i], float(proba[i])) for i in order)
        return Prediction(top[0][0], top[0][1], top, self.version, second_asked=asked)


class Classifier:
    """Photo -> :class:`Prediction`. Build with :meth:`load`."""

    def __init__(self, bundle: _Bundle, memory_capacity: int) -> None:
        self._bundle = bundle
        self._memory_capacity = memory_capacity
        self._reload_lock = threading.Lock()

    @classmethod
    def load(cls, model_dir: Path, memory_capacity: int = MAX_USER_ENTRIES) -> Classifier:
        """Load ``backbone.tflite``, ``head.npz``, ``model.json`` and ``exemplars.npz`` from
        ``model_dir``; the memory keeps at most ``memory_capacity`` users' entries."""
        return cls(_Bundle(model_dir, memory_capacity), memory_capacity)

    @property
    def version(self) -> str:
        """Version string of the current model."""
        return self._bundle.version

    @property
    def classes(self) -> tuple[str, ...]:
        """All labels, in model order (untrained ones included)."""
        return self._bundle.classes

    @property
    def model_card(self) -> dict[str, Any]:
        """The parsed ``model.json`` of the current model."""
        return self._bundle.card

    @property
    def memory(self) -> Memory | None:
        """The current model's nearest-neighbour memory (a new object after a reload)."""
        return self._bundle.memory

    @property
    def backbone_id(self) -> str:
        """Id of the current model's backbone (what users' memory entries are keyed by)."""
        return self._bundle.backbone_id

    def reload(self, model_dir: Path) -> None:
        """Load another model directory and switch to it atomically."""
        with self._reload_lock:
            bundle = _Bundle(model_dir, self._memory_capacity)
            self._bundle = bundle

    def probabilities(self, array: np.ndarray) -> np.ndarray:
        """All class probabilities [C] (model order) of a preprocessed uint8 [224, 224, 3] image."""
        return self._bundle.probabilities(array)[0]

    def answer_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        """Class probabilities [N, C] of the backbone's embeddings [N, D]: the head blended
        with the memory (the second model, which needs the image, is not asked)."""
        return self._bundle.answer(embeddings)

    def classify_image(self, image: Image.Image) -> Prediction:
        """Classify a decoded RGB image."""
        return self._bundle.predict(preprocess(image))

    def classify_bytes(self, data: bytes) -> Prediction:
        """Classify encoded image bytes (raises ``ml.image_io.UnsupportedImage``)."""
        return self.classify_image(decode_image(data))

    def classify_path(self, path: Path) -> Prediction:
        """Classify an image file."""
        return self.classify_bytes(Path(path).read_bytes())

    def embed_path(self, path: Path) -> tuple[str, np.ndarray]:
        """The backbone id and the embedding of an image file, for the memory."""
        bundle = self._bundle
        return bundle.backbone_id, bundle.embed(preprocess(decode_image(Path(path).read_bytes())))
