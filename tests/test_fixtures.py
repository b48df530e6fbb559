"""The shared test helpers of mtl_fixtures do what the tests rely on."""
import logging

from mmengine.logging import MMLogger, print_log

from mtl_fixtures import captured_log


def test_captured_log_follows_a_logger_made_current_later(monkeypatch):
    messages = captured_log(monkeypatch)
    print_log('before', logger='current')
    # as a Runner does: a new instance becomes the current logger
    MMLogger.get_instance('a_later_runner', log_level='DEBUG')
    print_log('after', logger='current', level=logging.WARNING)
    print_log('debug detail', logger='current', level=logging.DEBUG)
    assert messages == ['before', 'after']
