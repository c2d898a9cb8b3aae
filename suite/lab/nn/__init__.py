"""Networks: MLPs and their grouped (K-member) form, recurrent cells (Greff's LSTM variants, GRU, RNN) and the
layer-wise pretraining models (denoising autoencoders, RBMs)."""
