# the ProgressMeter print of pytorch/examples imagenet: "Epoch: [0][ 415/1736]\tTime ...\tLoss ..."
import numpy as np, time
class AverageMeter:
    def __init__(self, name, fmt=':f'): self.name, self.fmt, self.val, self.sum, self.count = name, fmt, 0, 0, 0
    def update(self, v, n=1): self.val = v; self.sum += v * n; self.count += n; self.avg = self.sum / self.count
    def __str__(self): return ('{name} {val' + self.fmt + '} ({avg' + self.fmt + '})').format(**self.__dict__)
rng = np.random.default_rng(2); X = rng.normal(size=(1736 * 4, 8)); yv = (X[:, 0] > 0).astype(float)
w = np.zeros(8); nb = 1736 // 4
for epoch in range(2):
    bt, losses = AverageMeter('Time', ':6.3f'), AverageMeter('Loss', ':.4e')
    for i in range(nb):
        t = time.time(); xb, yb = X[i*16:(i+1)*16], yv[i*16:(i+1)*16]
        p = 1 / (1 + np.exp(-(xb @ w))); loss = float(-np.mean(yb*np.log(p+1e-9)+(1-yb)*np.log(1-p+1e-9)))
        w -= 0.1 * xb.T @ (p - yb) / 16; losses.update(loss, 16); bt.update(time.time() - t)
        if i % 50 == 0:
            num_digits = len(str(nb)); fmt = '{:' + str(num_digits) + 'd}'
            print('\t'.join(['Epoch: [{}]'.format(epoch) + ('[' + fmt + '/' + fmt.format(nb) + ']').format(i)] + [str(bt), str(losses)]), flush=True)
