"""One torch thread for every agent test: the networks are tiny, and on shared 2-core machines extra threads only
wait for each other."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
