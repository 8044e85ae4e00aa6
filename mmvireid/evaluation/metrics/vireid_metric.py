"""Cross-modality retrieval metric of the VI-ReID protocols."""
import copy
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from mmvireid.datasets.base_vireid_dataset import IR, MODALITY_NAMES, RGB
from mmvireid.registry import METRICS
from ..functional.eval_vireid import PROTOCOLS, eval_vireid
from ..functional.gallery_trials import GALLERY_MODES, draw_gallery
from ..functional.ranked_list import setting_indices

#: Reported scores: (name, index in the CMC curve or the eval_vireid key).
_SCORES = (('R1', 0), ('R5', 4), ('R10', 9), ('R20', 19), ('mAP', 'mAP'),
           ('mINP', 'mINP'))
_MAX_RANK = 20
_SAMPLE_FIELDS = ('pid', 'camid', 'modality', 'is_query', 'is_gallery',
                  'img_path')
_SETTING_KEYS = ('name', 'query_modality', 'gallery_modality', 'gallery_cams',
                 'gallery_mode', 'num_trials')
_MODALITY_BY_NAME = {name: value for value, name in MODALITY_NAMES.items()}

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
    the distances ``1 - cos`` of the L2-normalised features once, draws the
    gallery of every trial (:func:`draw_gallery`, trial ``t`` seeded with
    ``t``) and scores it with :func:`eval_vireid` under ``protocol``.

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

    Args:
        protocol (str): ``'sysu'``, ``'regdb'`` or ``'llcm'``: the removal
            and CMC rules of :func:`eval_vireid`. Defaults to ``'sysu'``.
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

    Example:
        >>> val_evaluator = dict(type='VIReIDMetric', protocol='sysu')
        >>> # multi-shot all-search only
        >>> val_evaluator = dict(
        ...     type='VIReIDMetric', protocol='sysu',
        ...     settings=[dict(name='all_multi', query_modality='ir',
        ...                    gallery_modality='rgb',
        ...                    gallery_cams=[1, 2, 4, 5],
        ...                    gallery_mode='multi_shot')])
    """

    def __init__(self,
                 protocol: str = 'sysu',
                 settings: Optional[List[dict]] = None,
                 num_trials: int = 10,
                 feature_key: str = 'feature',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
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
            value = _MODALITY_BY_NAME.get(setting[key], setting[key])
            if value not in MODALITY_NAMES or isinstance(value, bool):
                raise ValueError(
                    f'VIReIDMetric: setting {setting["name"]!r}: {key} must '
                    f'be one of {sorted(MODALITY_NAMES)} or '
                    f'{sorted(_MODALITY_BY_NAME)}, got {setting[key]!r}')
            setting[key] = value
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
                        'test pipeline must pack it (PackInputs meta_keys)')
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
        metrics, rows = {}, []
        for setting in self.settings:
            scores = self._evaluate_setting(setting, features, fields)
            mean, std = scores.mean(axis=0), scores.std(axis=0)
            for (name, _), m, s in zip(_SCORES, mean, std):
                metrics[f'{setting["name"]}/{name}'] = float(m)
                metrics[f'{setting["name"]}/{name}_std'] = float(s)
            rows.append([setting['name'], str(len(scores))] +
                        [f'{m:.2f} ± {s:.2f}' for m, s in zip(mean, std)])
        print_log(
            f'{self.prefix} (percent, mean ± std over trials):\n' +
            _table(['setting', 'trials'] + [n for n, _ in _SCORES], rows),
            logger='current')
        return metrics

    def _evaluate_setting(self, setting: dict, features: torch.Tensor,
                          fields: Dict[str, np.ndarray]) -> np.ndarray:
        """Scores of every trial of one setting, shape (num_trials, 6)."""
        name = setting['name']
        q_index, c_index = setting_indices(setting, fields['is_query'],
                                           fields['is_gallery'],
                                           fields['modality'], fields['camid'])
        if not len(q_index) or not len(c_index):
            raise ValueError(
                f'VIReIDMetric: setting {name!r} found {len(q_index)} queries '
                f'and {len(c_index)} gallery candidates in '
                f'{len(fields["modality"])} test samples; check is_query / '
                'is_gallery / modality / camid of the test set')
        # One product per setting; every trial takes a subset of its columns.
        distmat = (1 - features[q_index] @ features[c_index].T).numpy()
        q_pids, c_pids = fields['pid'][q_index], fields['pid'][c_index]
        q_camids, c_camids = fields['camid'][q_index], fields['camid'][c_index]

        num_trials = setting['num_trials']
        scores = np.empty((num_trials, len(_SCORES)))
        for trial in range(num_trials):
            selected = draw_gallery(
                c_pids,
                c_camids,
                fields['img_path'][c_index],
                seed=trial,
                gallery_cams=setting['gallery_cams'],
                mode=setting['gallery_mode'])
            result = eval_vireid(
                distmat[:, selected],
                q_pids,
                c_pids[selected],
                q_camids,
                c_camids[selected],
                protocol=self.protocol,
                max_rank=_MAX_RANK)
            scores[trial] = [
                100 * (result['cmc'][k] if isinstance(k, int) else result[k])
                for _, k in _SCORES
            ]
            print_log(
                f'{self.prefix}/{name} trial {trial + 1}/{num_trials}: ' +
                ', '.join(f'{n} {v:.2f}'
                          for (n, _), v in zip(_SCORES, scores[trial])),
                logger='current')
        return scores


def _scalar(value):
    """A Python scalar from a scalar tensor / array or a plain value."""
    return value.item() if hasattr(value, 'item') else value


def _table(header: List[str], rows: List[List[str]]) -> str:
    """A plain-text table (no ``rich`` / ``prettytable`` dependency)."""
    widths = [max(len(row[i]) for row in [header] + rows)
              for i in range(len(header))]

    def line(cells):
        return '| ' + ' | '.join(c.rjust(w)
                                 for c, w in zip(cells, widths)) + ' |'

    rule = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'
    return '\n'.join([rule, line(header), rule] + [line(r)
                                                   for r in rows] + [rule])
