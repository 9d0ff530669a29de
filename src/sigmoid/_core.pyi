import numpy as np

sigmoid: np.ufunc
log_sigmoid: np.ufunc
softplus: np.ufunc
logit: np.ufunc
hard_sigmoid: np.ufunc
silu: np.ufunc
sigmoid_backward: np.ufunc
sigmoid_backward_from_output: np.ufunc
hard_sigmoid_backward: np.ufunc
silu_backward: np.ufunc

def set_num_threads(n: int, /) -> None: ...
def get_num_threads() -> int: ...
def _available_cores() -> int: ...
def _get_isa() -> str: ...
def _supported_isas() -> str: ...
def _set_isa(name: str, /) -> None: ...

def _lstm_forward(
    gates: np.ndarray, c_prev: np.ndarray, h_out: np.ndarray, c_out: np.ndarray,
    act_out: np.ndarray, tanhc_out: np.ndarray, /,
) -> None: ...
def _lstm_backward(
    dh: np.ndarray, dc: np.ndarray, act: np.ndarray, c_prev: np.ndarray, tanhc: np.ndarray,
    dgates_out: np.ndarray, dc_prev_out: np.ndarray, /,
) -> None: ...
def _gru_forward(
    gi: np.ndarray, gh: np.ndarray, h_prev: np.ndarray, h_out: np.ndarray, act_out: np.ndarray, /,
) -> None: ...
def _gru_backward(
    dh: np.ndarray, act: np.ndarray, h_prev: np.ndarray, dgi_out: np.ndarray, dgh_out: np.ndarray,
    dh_prev_out: np.ndarray, /,
) -> None: ...
