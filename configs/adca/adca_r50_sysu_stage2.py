# ADCA stage 2 on SYSU-MM01 (yangbincv/ADCA adca_sysu_train.py
# main_worker_stage2 from L700): stage 1's model trained 50 more epochs with a
# fresh Adam and schedule, and after every clustering the cross-modality
# memory aggregation (CMA, L814-849): RGB and IR clusters are paired by the
# votes of image pairs with inner product >= 0.5 (association='adca'), and
# each paired RGB prototype becomes 0.1 m_rgb + 0.9 m_ir, not renormalised
# (memory_aggregation=0.1). Still no cross-modality loss.
# Run adca_r50_sysu_stage1.py first; this loads its last checkpoint (ADCA
# loads the one with the best test mAP: set load_from to
# work_dirs/adca_r50_sysu_stage1/best_sysu_all_mAP_epoch_<N>.pth for that).
_base_ = ['./adca_r50_sysu_stage1.py']

model = dict(head=dict(memory_aggregation=0.1))

clustering_hook = dict(_base_.clustering_hook, association='adca')
custom_hooks = [clustering_hook]

load_from = 'work_dirs/adca_r50_sysu_stage1/epoch_50.pth'
