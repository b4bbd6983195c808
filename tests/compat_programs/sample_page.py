# -*- coding: utf-8 -*-
"""매뉴얼 §6.2 샘플 페이지(Api_Sample)의 흐름을 pywin32 프로그램으로 옮긴 것.

Windows에서는 `python sample_page.py 아이디 비밀번호 상대번호`로, 그 밖의 OS에서는
`python -m lguapi.compat.run sample_page.py 아이디 비밀번호 상대번호`로 실행합니다.
페이지의 자바스크립트 함수 하나가 메서드 하나에, <script for="EventClientCtrl"
event="..."> 블록 하나가 On<이벤트> 메서드 하나에 대응합니다.
"""
import sys
import time

import pythoncom
import win32com.client

PROGID = "LGUBaseOpenApi.LGUBaseOpenApiCtrl.1"


class SamplePage:
    """이벤트 스크립트 블록들. 객체는 컨트롤 자신이기도 합니다(DispatchWithEvents)."""

    def __init__(self):
        self.ISCON = 0     # 접속 상태 (페이지의 ISCON)
        self.ISCALL = 0    # 통화 상태 (페이지의 ISCALL)
        self.talking = 0   # CHANNELLIST를 받았는지
        self.results = []  # SendCommandResultEvent로 받은 결과

    # --- <script for="EventClientCtrl" event="..."> ---------------------------------
    def OnSendLoginResultEvent(self, bstrLoginResult):
        self.parseMsg(bstrLoginResult)

    def OnSendRingEvent(self, bstrRingEvent):
        self.parseMsg(bstrRingEvent)

    def OnSendChannelListEvent(self, bstrChannelList):
        self.parseMsg(bstrChannelList)

    def OnSendChannelOutEvent(self, bstrChannelOut):
        self.parseMsg(bstrChannelOut)

    def OnSendCommandResultEvent(self, bstrCommandResult):
        self.results.append(bstrCommandResult)
        print("명령결과:", bstrCommandResult)

    def OnSendNetworkErrorEvent(self):
        self.DisconnectServer()            # document.all.EventClientCtrl.DisconnectServer();
        self.ISCON = 0
        print("disconnected.....")

    def OnSendEtcEvent(self, strEventName, strEventValue):
        self.EtcEvent(strEventName, strEventValue)

    def OnSendSMSEvent(self, strEventValue):
        self.EtcEvent("SendSMSEvent", strEventValue)

    def OnSendPeerMsgEvent(self, strEventValue):
        self.EtcEvent("SendPeerMsgEvent", strEventValue)

    def OnSendCmdErrorEvent(self, strCmd, strEventValue):
        if strCmd != "Connect":
            print("CmdError: cmd(" + strCmd + ")" + strEventValue)

    # --- 페이지의 함수 ------------------------------------------------------------------
    def parseMsg(self, msg):
        msgs = msg.split("|")
        Insp = {"EVENT": msgs[0]}
        for item in msgs[1:]:
            name, _, value = item.partition(":")
            Insp[name] = value
        if Insp["EVENT"] == "LOGINRESULT":
            if int(Insp.get("STATUS", "0")) > 0:
                self.ISCON = 1
                print("로그인성공:" + Insp["EXTEN"] + "/" + Insp["CALLERID"])
            else:
                self.DisconnectServer()
                print("LOGIN 실패:" + msg)
        elif Insp["EVENT"] == "RINGEVENT":
            self.ISCALL = 1
            print("링:", "발신" if Insp.get("ISDIAL") == "1" else "수신", Insp.get("CALLERID"))
        elif Insp["EVENT"] == "CHANNELLIST":
            self.talking = 1
            print("통화중:", Insp.get("CHANNEL1"), Insp.get("CHANNEL2"))
        elif Insp["EVENT"] == "CHANNELOUT":
            self.ISCALL = 0
            self.talking = 0
            print("통화종료: HCAUSE", Insp.get("HCAUSE"))

    def EtcEvent(self, strEventName, strEventValue):
        print(strEventName + ":", strEventValue)


def wait_for(ctrl, condition, seconds=30):
    """브라우저가 이벤트를 처리하듯 메시지를 펌프하며 condition()이 참이 되기를 기다립니다."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("시간 초과")
        pythoncom.PumpWaitingMessages()
        time.sleep(0.01)


def main():
    user, password, number = sys.argv[1], sys.argv[2], sys.argv[3]
    pythoncom.CoInitialize()
    ctrl = win32com.client.DispatchWithEvents(PROGID, SamplePage)
    if ctrl.readyState != 4:                           # if(document.all.EventClientCtrl.readyState == 4) READY=1;
        raise SystemExit("컨터롤이 시작되지 못했습니다.")

    # sConnect(): 접속 버튼
    ctrl.SetAutoReconnect(20)
    ctrl.SetSeedEncryption()                           # Seed 체크박스
    ctrl.LoginServer(user, password, "")
    wait_for(ctrl, lambda: ctrl.ISCON)
    print("연결상태 :", ctrl.IsConnected())            # CheckConnect()

    # dial(): 전화걸기 -> 통화 연결 -> hold() / hold(1) -> hangup(): 끊기
    ctrl.Click2Call(number, "outbound", "")
    wait_for(ctrl, lambda: ctrl.talking)
    ctrl.Hold()
    ctrl.UnHold()
    ctrl.HangUp()
    wait_for(ctrl, lambda: not ctrl.ISCALL)

    # OAM기능: sendsms(), 내선 정보, 통화이력, 착신전환/착전해제, 수신SMS list
    ctrl.SendSMS("0", "", number, "샘플 페이지에서 보낸 문자입니다")
    ctrl.GetPeerInfo(user[-4:])
    ctrl.GetCallHistory("1", "", "20110901", "20991231", "9")
    ctrl.SetForward("1", "1", number, "", "", "")
    ctrl.SetForward("0", " ", " ", " ", " ")
    ctrl.GetRecvSmsList(1, "")
    wait_for(ctrl, lambda: len(ctrl.results) >= 6)

    # sConnect() 다시: 접속 중이면 접속 종료
    ctrl.DisconnectServer()
    wait_for(ctrl, lambda: not ctrl.ISCON)
    pythoncom.CoUninitialize()


if __name__ == "__main__":
    main()
