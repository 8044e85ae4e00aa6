"""Cross-modality retrieval metric of the VI-ReID protocols."""
import copy
import inspect
import io
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from rich import box
from rich.console import Console
from rich.table import Table

from mmvireid.registry import METRICS
from mmvireid.structures import IR, RGB, parse_modality
from ..functional.gallery_trials import (GALLERY_MODES, RandPerm,
                                         load_rand_perm_cam, setting_indices,
                                         trial_indices)
from ..functional.rank import PROTOCOLS, evaluate_rank, summarize_rank
from ..functional.re_ranking import check_re_ranking_args, re_ranking

#: Reported scores: (name, index in the CMC curve or the summarize_rank key).
_SCORES = (('R1', 0), ('R5', 4), ('R10', 9), ('R20', 19), ('mAP', 'mAP'),
           ('mINP', 'mINP'))
_MAX_RANK = 20
_SAMPLE_FIELDS = ('pid', 'camid', 'modality', 'is_query', 'is_gallery',
                  'img_path')
_SETTING_KEYS = ('name', 'query_modality', 'gallery_modality', 'gallery_cams',
                 'gallery_mode', 'num_trials')
#: Ways to draw the single-shot / multi-shot gallery of a trial.
GALLERY_DRAWS = ('random', 'official')
#: Arguments of :func:`re_ranking` that ``rerank`` may set, with defaults.
_RERANK_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(re_ranking).parameters.items()
    if parameter.default is not inspect.Parameter.empty
}
#: Per-query fields kept for :meth:`VIReIDMetric.per_query_records`.
_QUERY_SCORES = ('valid', 'ap', 'inp', 'first_match_rank')

#: Evaluation settings of each protocol; ``num_trials`` left out means the
#: metric's ``num_trials`` (one trial for the fixed ``all`` gallery).
DEFAULT_SETTINGS = {
    'sysu': [
        dict(
            name='all',
            query_modality=IR,
            gallery_modality=RGB,
            gallery_cams=[1, 2, 4, 5],
            gallery_mode='single_shot'),
        dict(
            name='indoor',
            query_modality=IR,
            gallery_modality=RGB,
            gallery_cams=[1, 2],
            gallery_mode='single_shot'),
    ],
    'regdb': [
        dict(
            name='visible2thermal',
            query_modality=RGB,
            gallery_modality=IR,
            gallery_mode='all'),
        dict(
            name='thermal2visible',
            query_modality=IR,
            gallery_modality=RGB,
            gallery_mode='all'),
    ],
    'llcm': [
        dict(
            name='vis2nir',
            query_modality=RGB,
            gallery_modality=IR,
            gallery_mode='single_shot'),
        dict(
            name='nir2vis',
            query_modality=IR,
            gallery_modality=RGB,
            gallery_mode='single_shot'),
    ],
}


@METRICS.register_module()
class VIReIDMetric(BaseMetric):
    """CMC (R1, R5, R10, R20), mAP and mINP of VI-ReID, mean and std over
    gallery trials, in percent.

    Every test image is kept with its feature; each *setting* then takes the
    queries of one modality (``is_query``) and the gallery candidates of the
    other (``is_gallery``, optionally restricted to some cameras), computes
    the distances ``1 - cos`` of the L2-normalised features once, takes the
    gallery of every trial (:func:`trial_indices`), optionally re-ranks the
    distances (:func:`re_ranking`), scores every query with
    :func:`evaluate_rank` under ``protocol`` and averages the valid queries
    (:func:`summarize_rank`). The per-query results of the last evaluation
    stay available (:meth:`per_query_records`, ``tools/test.py --out``), and
    :meth:`rank_setting` gives the ranked lists behind them.

    Default settings (names read query -> gallery):

    - ``sysu``: ``all`` (IR queries of cameras 3 and 6, single-shot RGB
      gallery of cameras 1, 2, 4, 5) and ``indoor`` (gallery cameras 1, 2),
      ``num_trials`` trials each.
    - ``regdb``: ``visible2thermal`` (visible queries, every thermal test
      image as gallery) and ``thermal2visible``, one trial each since the
      gallery is fixed.
    - ``llcm``: ``vis2nir`` (**visible queries**, gallery of one random NIR
      image per id per camera) and ``nir2vis`` (**NIR queries**, visible
      gallery), ``num_trials`` trials each. Public codes disagree on what
      "VIS->IR" means: DEEN's ``test_mode=[1, 2]`` draws the gallery from
      ``test_vis`` and the queries from ``test_nir``, i.e. our ``nir2vis``.

    A setting is a dict with ``name``, ``query_modality`` and
    ``gallery_modality`` (``RGB``/``IR`` or ``'rgb'``/``'ir'``), and
    optionally ``gallery_cams`` (list of camera numbers, None = all),
    ``gallery_mode`` (``'single_shot'``, ``'multi_shot'`` or ``'all'``;
    default ``'single_shot'``) and ``num_trials``. Given ``settings`` replace
    the protocol's defaults.

    Gallery draws (``gallery_draw``) of the single-shot and multi-shot
    galleries, trial ``t`` = 0, 1, ...:

    - ``'random'``: the AGW family's draw, Python's ``random`` seeded with
      ``t`` (:func:`draw_gallery`).
    - ``'official'`` (SYSU-MM01 only): row ``t`` of the permutations of the
      official release, ``data_split/rand_perm_cam.mat`` of its evaluation
      code (:func:`load_rand_perm_cam`, :func:`official_gallery`), at
      ``rand_perm_file``.

    Re-ranking (``rerank``) replaces each trial's distances by
    :func:`re_ranking` of them, with the query x query and gallery x gallery
    distances of the trial. In VI-ReID those compare images of *one*
    modality (see the caveat there): re-ranked scores are not comparable
    with the usual ones; report them as such.

    Args:
        protocol (str): ``'sysu'``, ``'regdb'`` or ``'llcm'``: the removal
            and CMC rules of :func:`evaluate_rank`. Defaults to ``'sysu'``.
        settings (list[dict], optional): Evaluation settings. None: the
            protocol's defaults above. Defaults to None.
        num_trials (int): Gallery trials of the settings that do not say.
            Defaults to 10.
        feature_key (str): Field of the data samples holding the (D,)
            feature. Defaults to ``'feature'``.
        collect_device (str): ``'cpu'`` or ``'gpu'``, to gather results
            across ranks. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names. None: the
            protocol, so keys read ``'sysu/all/R1'``. Defaults to None.
        rerank (dict, optional): Re-rank with :func:`re_ranking`; the dict
            may set ``k1``, ``k2`` and ``lambda_value`` (defaults 20, 6,
            0.3; ``dict()`` takes them all). None: no re-ranking. Defaults
            to None.
        gallery_draw (str): ``'random'`` or ``'official'`` (protocol
            ``'sysu'`` only). Defaults to ``'random'``.
        keep_topk (int): Keep the first ``keep_topk`` gallery items of every
            query's ranking with the per-query results
            (:meth:`ranked_lists`; :class:`VIReIDVisualizationHook` raises
            it to what it draws). 0 keeps none. Defaults to 0.
        rand_perm_file (str): The official permutations for
            ``gallery_draw='official'``: an absolute path, or a path relative
            to the dataset root (the folder of ``cam1`` ... ``cam6``, found
            from the test images' paths). Defaults to
            ``'exp/rand_perm_cam.mat'``.

    Example:
        >>> val_evaluator = dict(type='VIReIDMetric', protocol='sysu')
        >>> # multi-shot all-search only
        >>> val_evaluator = dict(
        ...     type='VIReIDMetric', protocol='sysu',
        ...     settings=[dict(name='all_multi', query_modality='ir',
        ...                    gallery_modality='rgb',
        ...                    gallery_cams=[1, 2, 4, 5],
        ...                    gallery_mode='multi_shot')])
        >>> # the galleries of the official release, re-ranked
        >>> test_evaluator = dict(
        ...     type='VIReIDMetric', protocol='sysu', gallery_draw='official',
        ...     rerank=dict(k1=20, k2=6, lambda_value=0.3))
    """

    def __init__(self,
                 protocol: str = 'sysu',
                 settings: Optional[List[dict]] = None,
                 num_trials: int = 10,
                 feature_key: str = 'feature',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 rerank: Optional[dict] = None,
                 gallery_draw: str = 'random',
                 rand_perm_file: str = 'exp/rand_perm_cam.mat',
                 keep_topk: int = 0) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f'VIReIDMetric: protocol must be one of '
                             f'{PROTOCOLS}, got {protocol!r}')
        if isinstance(num_trials, bool) or not isinstance(
                num_trials, int) or num_trials < 1:
            raise ValueError('VIReIDMetric: num_trials must be a positive '
                             f'int, got {num_trials!r}')
        super().__init__(
            collect_device=collect_device, prefix=prefix or protocol)
        self.protocol = protocol
        self.num_trials = num_trials
        self.feature_key = feature_key
        if settings is None:
            settings = DEFAULT_SETTINGS[protocol]
        if not settings:
            raise ValueError('VIReIDMetric: settings must name at least one '
                             'setting')
        self.settings = [self._check_setting(s) for s in settings]
        names = [s['name'] for s in self.settings]
        if len(set(names)) != len(names):
            raise ValueError(f'VIReIDMetric: setting names must be distinct, '
                             f'got {names}')
        self.rerank = self._check_rerank(rerank)
        if gallery_draw not in GALLERY_DRAWS:
            raise ValueError(f'VIReIDMetric: gallery_draw must be one of '
                             f'{GALLERY_DRAWS}, got {gallery_draw!r}')
        if gallery_draw == 'official' and protocol != 'sysu':
            raise ValueError(
                "VIReIDMetric: gallery_draw='official' reads the permutations"
                ' of the SYSU-MM01 release and needs protocol=\'sysu\', got '
                f'protocol={protocol!r}')
        if not isinstance(rand_perm_file, str) or not rand_perm_file:
            raise ValueError('VIReIDMetric: rand_perm_file must be a path, '
                             f'got {rand_perm_file!r}')
        if gallery_draw == 'official' and osp.isabs(rand_perm_file) \
                and not osp.isfile(rand_perm_file):
            raise FileNotFoundError(
                f'VIReIDMetric: rand_perm_file {rand_perm_file!r}: no such '
                'file (the official SYSU-MM01 evaluation\'s '
                'data_split/rand_perm_cam.mat)')
        if isinstance(keep_topk, bool) or not isinstance(
                keep_topk, int) or keep_topk < 0:
            raise ValueError('VIReIDMetric: keep_topk must be an int >= 0, '
                             f'got {keep_topk!r}')
        self.keep_topk = keep_topk
        self.gallery_draw = gallery_draw
        self.rand_perm_file = rand_perm_file
        self._rand_perm: Dict[str, RandPerm] = {}
        # Per-query results of the last evaluation (per_query_records).
        self._per_query: List[dict] = []
        self._query_fields: Dict[str, np.ndarray] = {}

    def _check_setting(self, setting: dict) -> dict:
        """Validate a setting dict and fill in its defaults."""
        if not isinstance(setting, dict):
            raise TypeError(f'VIReIDMetric: a setting must be a dict, got '
                            f'{setting!r}')
        unknown = set(setting) - set(_SETTING_KEYS)
        missing = {'name', 'query_modality', 'gallery_modality'} - set(setting)
        if unknown or missing:
            raise ValueError(
                f'VIReIDMetric: setting {setting!r} has unknown keys '
                f'{sorted(unknown)} / lacks {sorted(missing)}; expected keys '
                f'{_SETTING_KEYS}')
        setting = copy.deepcopy(setting)
        for key in ('query_modality', 'gallery_modality'):
            setting[key] = parse_modality(
                setting[key],
                f'VIReIDMetric: setting {setting["name"]!r}: {key}')
        setting.setdefault('gallery_cams', None)
        setting.setdefault('gallery_mode', 'single_shot')
        if setting['gallery_mode'] not in GALLERY_MODES:
            raise ValueError(
                f'VIReIDMetric: setting {setting["name"]!r}: gallery_mode '
                f'must be one of {GALLERY_MODES}, got '
                f'{setting["gallery_mode"]!r}')
        setting.setdefault(
            'num_trials',
            1 if setting['gallery_mode'] == 'all' else self.num_trials)
        trials = setting['num_trials']
        if isinstance(trials, bool) or not isinstance(trials,
                                                      int) or trials < 1:
            raise ValueError(
                f'VIReIDMetric: setting {setting["name"]!r}: num_trials must '
                f'be a positive int, got {trials!r}')
        return setting

    @staticmethod
    def _check_rerank(rerank: Optional[dict]) -> Optional[dict]:
        """The re-ranking arguments with their defaults, or None."""
        if rerank is None:
            return None
        if not isinstance(rerank, dict) or set(rerank) - set(
                _RERANK_DEFAULTS):
            raise ValueError(
                'VIReIDMetric: rerank must be None or a dict of '
                f'{sorted(_RERANK_DEFAULTS)}, got {rerank!r}')
        rerank = {**_RERANK_DEFAULTS, **rerank}
        check_re_ranking_args(**rerank)
        return rerank

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep the feature and the protocol fields of every sample.

        Args:
            data_batch: The batch from the data loader (unused: everything
                needed is in the predictions).
            data_samples (Sequence[dict]): Outputs of ``model.predict``
                (``DataSample`` s or their dicts) with a (D,) feature under
                ``feature_key`` and the fields ``pid``, ``camid``,
                ``modality``, ``is_query``, ``is_gallery``, ``img_path``.
        """
        for data_sample in data_samples:
            feature = data_sample.get(self.feature_key)
            if not isinstance(feature, torch.Tensor) or feature.ndim != 1:
                raise ValueError(
                    f'VIReIDMetric: data sample field {self.feature_key!r} '
                    'must be a (D,) tensor set by the model\'s predict, got '
                    f'{getattr(feature, "shape", feature)!r}')
            result = dict(feature=feature.detach().cpu())
            for key in _SAMPLE_FIELDS:
                value = data_sample.get(key)
                if value is None:
                    raise KeyError(
                        f'VIReIDMetric: data sample lacks field {key!r}; the '
                        'test pipeline must pack it (PackVIReIDInputs '
                        'meta_keys)')
                result[key] = value
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Score every setting; log a table of mean ± std.

        Args:
            results (list[dict]): What :meth:`process` kept, over the whole
                test set.

        Returns:
            dict[str, float]: ``'{setting}/R1'``, ``'{setting}/R1_std'``, ...
            for R1, R5, R10, R20, mAP and mINP, in percent: mean and
            population standard deviation (``ddof=0``) over the trials.
        """
        features = F.normalize(
            torch.stack([r['feature'] for r in results]).float(), dim=1)
        fields = {
            key: np.array([_scalar(r[key]) for r in results])
            for key in _SAMPLE_FIELDS
        }
        metrics, rows, self._per_query = {}, [], []
        for setting in self.settings:
            name, num_trials = setting['name'], setting['num_trials']
            scores = np.empty((num_trials, len(_SCORES)))
            for trial, q_index, g_index, ranked in self._rank_normalized(
                    setting, features, fields, topk=self.keep_topk or None):
                try:
                    summary = summarize_rank(ranked)
                except ValueError as error:
                    raise ValueError(f'VIReIDMetric: setting {name!r}, trial '
                                     f'{trial}: {error}') from None
                scores[trial] = [
                    100 * (summary['cmc'][k] if isinstance(k, int) else
                           summary[k]) for _, k in _SCORES
                ]
                print_log(
                    f'{self.prefix}/{name} trial {trial + 1}/{num_trials}: ' +
                    ', '.join(f'{n} {v:.2f}'
                              for (n, _), v in zip(_SCORES, scores[trial])),
                    logger='current')
                entry = dict(setting=name, trial=trial, q_index=q_index,
                             **{key: ranked[key] for key in _QUERY_SCORES})
                if self.keep_topk:
                    index = ranked['index']
                    entry.update(
                        gallery=np.where(index >= 0, g_index[index], -1),
                        distance=ranked['distance'], match=ranked['match'])
                self._per_query.append(entry)
            mean, std = scores.mean(axis=0), scores.std(axis=0)
            for (score, _), m, s in zip(_SCORES, mean, std):
                metrics[f'{name}/{score}'] = float(m)
                metrics[f'{name}/{score}_std'] = float(s)
            rows.append([name, str(num_trials)] +
                        [f'{m:.2f} ± {s:.2f}' for m, s in zip(mean, std)])
        self._query_fields = {
            key: fields[key]
            for key in ('img_path', 'pid', 'camid', 'modality')
        }
        print_log(
            f'{self.prefix} (percent, mean ± std over trials' +
            (', re-ranked' if self.rerank else '') + '):\n' +
            _table(['setting', 'trials'] + [n for n, _ in _SCORES], rows),
            logger='current')
        return metrics

    def rank_setting(
        self,
        setting: dict,
        features: torch.Tensor,
        fields: Dict[str, np.ndarray],
        trials: Optional[Sequence[int]] = None,
        topk: Optional[int] = None
    ) -> Iterator[Tuple[int, np.ndarray, np.ndarray, Dict[str, np.ndarray]]]:
        """Per-query results of the trials of one setting, as scored.

        The distances ``1 - cos`` between the queries and the gallery
        candidates are computed once; each trial takes its gallery
        (:func:`trial_indices`, with this metric's ``gallery_draw``), is
        re-ranked if ``rerank`` is set, and ranked by :func:`evaluate_rank`.

        Args:
            setting (dict): One of :attr:`settings`.
            features (torch.Tensor | np.ndarray): Features of the N test
                items, (N, D); L2-normalised here.
            fields (dict[str, np.ndarray]): ``pid``, ``camid``, ``modality``,
                ``is_query``, ``is_gallery`` and ``img_path`` of the items,
                each (N,).
            trials (Sequence[int], optional): Trials to rank, 0-based. None:
                ``0 .. setting['num_trials'] - 1``. Defaults to None.
            topk (int, optional): Also return the top-k ranked gallery of
                every query (see :func:`evaluate_rank`). Defaults to None.

        Returns:
            Iterator[tuple]: For each trial, ``(trial, q_index, g_index,
            results)``: the item indices of the Q queries and of the trial's
            G gallery items, and the per-query results of
            :func:`evaluate_rank` (gallery indices of ``index`` are
            positions in ``g_index``).

        Example:
            >>> metric = VIReIDMetric(protocol='sysu')
            >>> for trial, q_index, g_index, results in metric.rank_setting(
            ...         metric.settings[0], features, fields, trials=[3],
            ...         topk=10):
            ...     worst_first = np.argsort(results['ap'])
        """
        return self._rank_normalized(
            setting, F.normalize(torch.as_tensor(features).float(), dim=1),
            fields, trials, topk)

    def _rank_normalized(
        self,
        setting: dict,
        features: torch.Tensor,
        fields: Dict[str, np.ndarray],
        trials: Optional[Sequence[int]] = None,
        topk: Optional[int] = None
    ) -> Iterator[Tuple[int, np.ndarray, np.ndarray, Dict[str, np.ndarray]]]:
        """:meth:`rank_setting` of L2-normalised features."""
        name = setting['name']
        trials = range(setting['num_trials']) if trials is None else trials
        for trial in trials:
            if not 0 <= trial < setting['num_trials']:
                raise ValueError(
                    f'VIReIDMetric: setting {name!r} has trials 0..'
                    f'{setting["num_trials"] - 1}, got trial {trial}')
        pids, camids = fields['pid'], fields['camid']
        q_index, c_index = setting_indices(setting, fields['is_query'],
                                           fields['is_gallery'],
                                           fields['modality'], camids)
        if not len(q_index) or not len(c_index):
            raise ValueError(
                f'VIReIDMetric: setting {name!r} found {len(q_index)} queries'
                f' and {len(c_index)} gallery candidates in {len(pids)} test '
                'samples; check is_query / is_gallery / modality / camid of '
                'the test set')
        # One product per setting; every trial takes a subset of its columns.
        q_features = features[q_index]
        distmat = (1 - q_features @ features[c_index].T).numpy()
        if self.rerank:
            q_q_dist = (1 - q_features @ q_features.T).numpy()
        rand_perm = (
            self._load_rand_perm(fields)
            if self.gallery_draw == 'official' else None)
        for trial in trials:
            _, g_index = trial_indices(setting, trial, fields, rand_perm)
            trial_dist = distmat[:, np.searchsorted(c_index, g_index)]
            if self.rerank:
                g_features = features[g_index]
                trial_dist = re_ranking(
                    trial_dist, q_q_dist,
                    (1 - g_features @ g_features.T).numpy(), **self.rerank)
            yield trial, q_index, g_index, evaluate_rank(
                trial_dist,
                pids[q_index],
                pids[g_index],
                camids[q_index],
                camids[g_index],
                protocol=self.protocol,
                max_rank=_MAX_RANK,
                topk=topk)

    def _load_rand_perm(self, fields: Dict[str, np.ndarray]) -> RandPerm:
        """The official permutations (read once per file)."""
        path = self.rand_perm_file
        if not osp.isabs(path):
            # cam<c>/<pid>/<image>: the root is three folders up.
            roots = {
                osp.dirname(osp.dirname(osp.dirname(p)))
                for p in fields['img_path'][fields['is_gallery'].astype(bool)]
            }
            if len(roots) != 1:
                raise ValueError(
                    'VIReIDMetric: rand_perm_file is relative to the dataset '
                    'root, but the gallery images are not all of the form '
                    f'<root>/cam<c>/<pid>/<image> (roots {sorted(roots)[:3]})'
                    '; give an absolute rand_perm_file')
            path = osp.join(roots.pop(), path)
        if path not in self._rand_perm:
            try:
                self._rand_perm[path] = load_rand_perm_cam(path)
            except FileNotFoundError as error:
                raise FileNotFoundError(
                    f'VIReIDMetric: gallery_draw=\'official\' needs the '
                    f'official permutations: {error}; put the release\'s '
                    'rand_perm_cam.mat there or set rand_perm_file') from None
        return self._rand_perm[path]

    def per_query_records(self) -> List[dict]:
        """The per-query results of the last :meth:`compute_metrics`.

        Returns:
            list[dict]: One record per query of every trial of every setting,
            in that order: ``setting`` (str), ``trial`` (int, 0-based),
            ``img_path`` (str), ``pid`` and ``camid`` (int), ``valid`` (bool:
            the query keeps a true match after the protocol's removals and is
            scored), ``ap`` and ``inp`` (float in [0, 1], None if not valid)
            and ``first_match_rank`` (int, 1-based rank of the first true
            match on the ranking the CMC uses; None if not valid). Empty
            before the first evaluation and on ranks > 0 of a distributed
            run (MMEngine computes metrics on rank 0).

        Example:
            >>> metrics = runner.test()
            >>> records = metric.per_query_records()
            >>> hard = [r for r in records if r['valid'] and r['ap'] < 0.1]
        """
        records = []
        for entry in self._per_query:
            fields = {
                key: self._query_fields[key][entry['q_index']].tolist()
                for key in ('img_path', 'pid', 'camid')
            }
            scores = {key: entry[key].tolist() for key in _QUERY_SCORES}
            for i, valid in enumerate(scores['valid']):
                records.append(
                    dict(
                        setting=entry['setting'],
                        trial=entry['trial'],
                        img_path=fields['img_path'][i],
                        pid=fields['pid'][i],
                        camid=fields['camid'][i],
                        valid=valid,
                        ap=scores['ap'][i] if valid else None,
                        inp=scores['inp'][i] if valid else None,
                        first_match_rank=(scores['first_match_rank'][i]
                                          if valid else None)))
        return records

    def ranked_lists(self) -> List[dict]:
        """The top-k ranked lists of the last :meth:`compute_metrics`.

        Needs ``keep_topk`` > 0 during that evaluation.

        Returns:
            list[dict]: One dict per trial of every setting, in that order:
            ``setting`` (str), ``trial`` (int, 0-based); per query (Q of
            them), ``query`` (Q,) its item index, ``ap`` (Q,) (NaN when not
            valid), ``valid`` (Q,) bool; per rank (K = ``keep_topk`` or
            fewer), ``gallery`` (Q, K) item indices (-1 past the end of a
            short ranking), ``distance`` (Q, K) and ``match`` (Q, K) bool;
            and ``img_path``, ``pid``, ``camid``, ``modality`` (N,) of every
            test item, which the item indices point into. Empty before the
            first evaluation and on ranks > 0.

        Raises:
            RuntimeError: If ``keep_topk`` was 0 in the last evaluation.

        Example:
            >>> metric.keep_topk = 10
            >>> runner.val()
            >>> first = metric.ranked_lists()[0]
            >>> first['img_path'][first['gallery'][0]]  # query 0's top 10
        """
        if self._per_query and 'gallery' not in self._per_query[0]:
            raise RuntimeError(
                'VIReIDMetric.ranked_lists: the last evaluation kept no '
                'ranked list; set keep_topk > 0 before it')
        return [
            dict(setting=entry['setting'], trial=entry['trial'],
                 query=entry['q_index'], ap=entry['ap'],
                 valid=entry['valid'], gallery=entry['gallery'],
                 distance=entry['distance'], match=entry['match'],
                 **self._query_fields) for entry in self._per_query
        ]


def _scalar(value):
    """A Python scalar from a scalar tensor / array or a plain value."""
    return value.item() if hasattr(value, 'item') else value


def _table(header: List[str], rows: List[List[str]]) -> str:
    """A plain-text table drawn by ``rich``, without terminal escape codes
    (it goes to the log file as well as to the console)."""
    table = Table(*header, box=box.ASCII2)
    for column in table.columns[1:]:
        column.justify = 'right'
    for row in rows:
        table.add_row(*row)
    console = Console(
        file=io.StringIO(), width=1000, color_system=None, no_color=True)
    console.print(table)
    return console.file.getvalue().rstrip('\n')
