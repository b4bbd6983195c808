# -*- coding: utf-8 -*-
"""A console softphone written for Windows: pywin32 + the vendor's LGUBaseOpenApi control.

Nothing here imports the SDK: on Windows it runs with `python console_phone.py ID PWD`,
elsewhere with `python -m lguapi.compat.run console_phone.py ID PWD`. Commands come one
per line on stdin; every event is printed as one line "EVENT <name> <thread> <text>".
"""
import queue
import sys
import threading

import pythoncom
import win32com.client

PROGID = "LGUBaseOpenApi.LGUBaseOpenApiCtrl.1"


def say(*parts):
    print(*parts, flush=True)


class PhoneEvents:
    def __init__(self):
        self.calls = 0
        self.main_thread = threading.current_thread().name

    def _show(self, name, *args):
        say("EVENT", name, threading.current_thread().name, *args)

    def OnSendLoginResultEvent(self, text):
        self._show("login", text)

    def OnSendRingEvent(self, text):
        self.calls += 1
        self._show("ring", text)

    def OnSendChannelListEvent(self, text):
        self._show("channellist", text)

    def OnSendChannelOutEvent(self, text):
        self._show("channelout", text)

    def OnSendCommandResultEvent(self, text):
        self._show("result", text)

    def OnSendEtcEvent(self, name, text):
        self._show("etc", name, text)

    def OnSendCmdErrorEvent(self, cmd, msg):
        if cmd != "Connect":
            self._show("cmderror", cmd, msg)
        else:
            self._show("connecterror", msg)

    def OnSendNetworkErrorEvent(self):
        self._show("neterror")

    def OnSendSMSEvent(self, text):
        self._show("sms", text)

    def OnSendPeerMsgEvent(self, text):
        self._show("peermsg", text)


def read_commands(commands):
    for line in sys.stdin:
        commands.put(line.rstrip("\n"))
    commands.put("quit")


def main():
    user, password = sys.argv[1], sys.argv[2]
    pythoncom.CoInitialize()
    api = win32com.client.DispatchWithEvents(PROGID, PhoneEvents)
    try:
        win32com.client.Dispatch("Excel.Application")
    except pythoncom.com_error as exc:
        say("COMERROR", exc.args[0], exc.args[1])
    say("READY", api.readyState)
    api.SetAutoReconnect(1)
    api.SetSeedEncryption()
    ok = api.LoginServer(user, password, "")
    say("LOGGEDIN", ok, api.IsConnected())
    commands = queue.Queue()
    threading.Thread(target=read_commands, args=(commands,), daemon=True).start()
    while True:
        pythoncom.PumpWaitingMessages()
        try:
            line = commands.get(timeout=0.02)
        except queue.Empty:
            continue
        word, _, rest = line.partition(" ")
        if word == "quit":
            break
        if word == "answer":
            api.Answer()
        elif word == "hold":
            api.Hold()
        elif word == "unhold":
            api.UnHold()
        elif word == "transfer":
            api.Transfer(rest)
        elif word == "sms":
            number, _, text = rest.partition(" ")
            api.SendSMS("0", "", number, text)
        elif word == "hangup":
            api.HangUp()
        elif word == "dial":
            api.Click2Call(rest, "", "")
        elif word == "history":
            api.GetCallHistory("1", "", "20000101", "20991231", "9")
        elif word == "relogin":
            api.DisconnectServer()
            say("LOGGEDIN", api.LoginServer(user, password, ""), api.IsConnected())
        elif word == "threads":
            say("THREADS", threading.active_count())
        elif word == "connected":
            say("CONNECTED", api.IsConnected())
        say("DONE", word)
    api.DisconnectServer()
    pythoncom.CoUninitialize()
    say("BYEBYE")


if __name__ == "__main__":
    main()
