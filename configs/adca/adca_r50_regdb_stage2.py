# ADCA stage 2 on RegDB (yangbincv/ADCA adca_regdb_train.py
# main_worker_stage2 from L564): as adca_r50_sysu_stage2.py, from
# adca_r50_regdb_stage1.py's last checkpoint (the same trial).
_base_ = ['./adca_r50_regdb_stage1.py']

model = dict(head=dict(memory_aggregation=0.1))

clustering_hook = dict(_base_.clustering_hook, association='adca')
custom_hooks = [clustering_hook]

load_from = 'work_dirs/adca_r50_regdb_stage1/epoch_50.pth'
