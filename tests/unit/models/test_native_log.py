import logging
import os

from models._native_log import native_log


def test_native_log_lines_become_records_and_other_text_is_kept(caplog, capfd):
    with caplog.at_level(logging.INFO, logger="models.native"), native_log():
        os.write(2, b"W0000 00:00:1796164660.375585    7172 inference_feedback_manager.cc:114] Feedback manager\n")
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"something else went wrong\n")
        with native_log():  # nested use neither loses nor duplicates
            os.write(2, b"I1201 10:00:00.000000 1 graph.cc:1] inner\n")
    err = capfd.readouterr().err
    assert err == "something else went wrong\n"
    messages = [r.getMessage() for r in caplog.records if r.name == "models.native"]
    assert len(messages) == 3 and messages[1].startswith("INFO: Created TensorFlow Lite")
    os.write(2, b"after\n")  # fd 2 is restored
    assert capfd.readouterr().err == "after\n"
