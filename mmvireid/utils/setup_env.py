"""Import every registered module so configs can name them."""
import datetime
import warnings

from mmengine import DefaultScope

from .checkpoint import install_checkpoint_policy


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register mmpretrain's and mmvireid's modules into their registries.

    Also installs the checkpoint loading policy
    (:func:`mmvireid.utils.install_checkpoint_policy`): every checkpoint
    MMEngine loads afterwards is read with ``weights_only=True`` through an
    allow-list, local files and remote ones alike.

    Args:
        init_default_scope (bool): Whether to set ``mmvireid`` as the default
            scope, so that a plain ``type='ResNet'`` resolves through
            mmvireid's registries (children of mmpretrain's). Defaults to True.
    """
    import mmpretrain.utils
    mmpretrain.utils.register_all_modules(init_default_scope=False)
    install_checkpoint_policy()

    import mmvireid.datasets  # noqa: F401,F403
    import mmvireid.engine  # noqa: F401,F403
    import mmvireid.evaluation  # noqa: F401,F403
    import mmvireid.models  # noqa: F401,F403

    if not init_default_scope:
        return
    never_created = DefaultScope.get_current_instance() is None \
        or not DefaultScope.check_instance_created('mmvireid')
    if never_created:
        DefaultScope.get_instance('mmvireid', scope_name='mmvireid')
        return
    current_scope = DefaultScope.get_current_instance()
    if current_scope.scope_name != 'mmvireid':
        warnings.warn('The current default scope '
                      f'"{current_scope.scope_name}" is not "mmvireid", '
                      '`register_all_modules` will force the current '
                      'default scope to be "mmvireid".')
        # avoid name conflict
        new_instance_name = f'mmvireid-{datetime.datetime.now()}'
        DefaultScope.get_instance(new_instance_name, scope_name='mmvireid')
