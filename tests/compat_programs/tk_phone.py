# -*- coding: utf-8 -*-
"""A Tk softphone for the vendor's LGUBaseOpenApi control, written for Windows and pywin32.

Nothing here imports the SDK: on Windows it runs with `python tk_phone.py ID PWD`, elsewhere
with `python -m lguapi.compat.run tk_phone.py ID PWD`. Four `after` loops pump COM
messages on the Tk thread, as the public Tk phones do. Each event is shown in the window
and printed as "EVENT <name> <thread> <text>".

Remote control for automated runs (one line each on stdin, executed on the Tk thread):
`set <field> <text>` types into an entry, `click <button>` presses a button,
`latency` prints the Tk thread's timer lateness, `threads` the thread count, `quit` closes.
"""
import queue
import sys
import threading
import time
import tkinter as tk

import pythoncom
import win32com.client

PROGID = "LGUBaseOpenApi.LGUBaseOpenApiCtrl.1"
TICK_MS = 20


def say(*parts):
    print(*parts, flush=True)


class PhoneEvents:
    app = None  # the window, set before the control is created

    def _show(self, name, *args):
        PhoneEvents.app.show(name, *args)

    def OnSendLoginResultEvent(self, text):
        self._show("login", text)

    def OnSendRingEvent(self, text):
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
        self._show("cmderror" if cmd != "Connect" else "connecterror", cmd, msg)

    def OnSendNetworkErrorEvent(self):
        self._show("neterror")

    def OnSendSMSEvent(self, text):
        self._show("sms", text)


class PhoneWindow:
    def __init__(self, root, user, password):
        self.root = root
        root.title("LG U+ 센트릭스 전화")
        self.fields = {}
        for row, (name, label, value) in enumerate([("id", "아이디", user), ("pwd", "비밀번호", password),
                                                     ("number", "전화번호", ""), ("exten", "돌려줄 내선", ""),
                                                     ("text", "문자 내용", "")]):
            tk.Label(root, text=label).grid(row=row, column=0, sticky="w")
            entry = tk.Entry(root, width=30, show="*" if name == "pwd" else "")
            entry.insert(0, value)
            entry.grid(row=row, column=1, columnspan=3, sticky="we")
            self.fields[name] = entry
        self.buttons = {}
        actions = [("login", "접속", self.login), ("answer", "전화받기", self.answer), ("hold", "보류", self.hold),
                   ("unhold", "보류해제", self.unhold), ("transfer", "돌려주기", self.transfer),
                   ("sms", "문자보내기", self.sms), ("hangup", "끊기", self.hangup), ("dial", "전화걸기", self.dial),
                   ("logout", "접속종료", self.logout)]
        for i, (name, label, command) in enumerate(actions):
            b = tk.Button(root, text=label, command=command)
            b.grid(row=6 + i // 4, column=i % 4, sticky="we")
            self.buttons[name] = b
        self.status = tk.Label(root, text="접속 전")
        self.status.grid(row=9, column=0, columnspan=4, sticky="w")
        self.log = tk.Listbox(root, width=80, height=12)
        self.log.grid(row=10, column=0, columnspan=4)
        self.lateness = []
        self.expected = None
        PhoneEvents.app = self
        pythoncom.CoInitialize()
        self.api = win32com.client.DispatchWithEvents(PROGID, PhoneEvents)
        self.api.SetAutoReconnect(1)
        for i in range(4):
            root.after(10, self.pump, i)
        root.after(TICK_MS, self.tick)
        self.remote = queue.Queue()
        threading.Thread(target=self.read_stdin, daemon=True).start()
        root.after(20, self.poll_remote)

    # --- COM message pumps and the latency probe
    def pump(self, i):
        pythoncom.PumpWaitingMessages()
        self.root.after(10, self.pump, i)

    def tick(self):
        now = time.perf_counter()
        if self.expected is not None:
            self.lateness.append(max(0.0, now - self.expected))
        self.expected = now + TICK_MS / 1000
        self.root.after(TICK_MS, self.tick)

    # --- buttons
    def value(self, name):
        return self.fields[name].get().strip()

    def login(self):
        self.api.SetSeedEncryption()
        ok = self.api.LoginServer(self.value("id"), self.value("pwd"), "")
        self.status.config(text="로그인 성공" if ok else "로그인 실패")
        say("LOGGEDIN", ok, self.api.IsConnected())

    def logout(self):
        self.api.DisconnectServer()

    def answer(self):
        self.api.Answer()

    def hold(self):
        self.api.Hold()

    def unhold(self):
        self.api.UnHold()

    def transfer(self):
        self.api.Transfer(self.value("exten"))

    def sms(self):
        self.api.SendSMS("0", "", self.value("number"), self.fields["text"].get())

    def hangup(self):
        self.api.HangUp()

    def dial(self):
        self.api.Click2Call(self.value("number"), "", "")

    # --- events
    def show(self, name, *args):
        line = " ".join([name, *args])
        self.log.insert("end", line)
        self.log.see("end")
        say("EVENT", name, threading.current_thread().name, *args)

    # --- remote control
    def read_stdin(self):
        for line in sys.stdin:
            self.remote.put(line.rstrip("\n"))
        self.remote.put("quit")

    def poll_remote(self):
        while not self.remote.empty():
            word, _, rest = self.remote.get().partition(" ")
            if word == "set":
                name, _, text = rest.partition(" ")
                self.fields[name].delete(0, "end")
                self.fields[name].insert(0, text)
            elif word == "click":
                self.buttons[rest].invoke()
            elif word == "latency":
                xs = sorted(self.lateness) or [0.0]
                n = len(self.lateness)
                say("LATENCY", n, "%.2f" % (1000 * xs[n // 2]), "%.2f" % (1000 * xs[int(n * 0.99)]), "%.2f" % (1000 * xs[-1]))
            elif word == "threads":
                say("THREADS", threading.active_count())
            elif word == "connected":
                say("CONNECTED", self.api.IsConnected())
            elif word == "quit":
                self.root.destroy()
                return
            say("DONE", word, rest.split(" ")[0])
        self.root.after(20, self.poll_remote)


def main():
    root = tk.Tk()
    window = PhoneWindow(root, sys.argv[1], sys.argv[2])
    say("READY", window.api.readyState)
    root.mainloop()
    window.api.DisconnectServer()
    say("BYEBYE")


if __name__ == "__main__":
    main()
