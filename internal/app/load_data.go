package app

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// The invented content of Load's reports and steps: Vietnamese text of the
// lengths intake forms and case notes have (a narrative of a few hundred
// to about two thousand characters), names and phone numbers that belong
// to nobody.

var (
	loadFamilyNames = []string{"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"}
	loadMiddleNames = []string{"Thị", "Văn", "Minh", "Ngọc", "Đức", "Thu", "Quốc", "Thanh", "Hải", "Gia"}
	loadGivenNames  = []string{"An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hùng", "Khánh", "Lan", "Linh", "Mai", "Nam", "Phúc", "Quân", "Tâm", "Thảo", "Trang", "Tuấn", "Vy", "Yến"}
	loadRelations   = []string{"bố", "mẹ", "bố dượng", "mẹ kế", "ông nội", "bà ngoại", "chú", "dì", "anh trai", "người giám hộ"}
	loadReporters   = []string{"hàng xóm", "giáo viên", "mẹ của trẻ", "bác sĩ", "trưởng thôn", "bạn học", "người thân", "nhân viên y tế trường học"}
	loadConditions  = []string{"bầm tím ở tay", "vết thương ở đầu", "gầy yếu, suy dinh dưỡng", "sợ hãi, ít nói", "bỏ học nhiều ngày", "không có dấu hiệu thương tích", "có dấu hiệu trầm cảm"}
	loadSentences   = []string{
		"Hàng xóm nhiều lần nghe tiếng trẻ khóc và tiếng quát mắng vào ban đêm, có hôm kéo dài đến gần sáng.",
		"Trẻ thường xuyên đến trường muộn, quần áo bẩn, có vết bầm ở cánh tay và chân mà không giải thích được.",
		"Người báo tin cho biết cha dượng của trẻ hay uống rượu và đánh trẻ khi say, mẹ trẻ đi làm xa ít khi ở nhà.",
		"Giáo viên chủ nhiệm nhận thấy trẻ thay đổi tính cách, sợ hãi khi nhắc đến người lớn trong gia đình.",
		"Trẻ bị để ở nhà một mình nhiều ngày liền, không có người chăm sóc, phải tự kiếm thức ăn.",
		"Gia đình có hoàn cảnh khó khăn, bố mẹ ly thân, trẻ sống với ông bà đã già yếu và thường xuyên ốm đau.",
		"Trẻ được phát hiện bán hàng rong ở khu vực chợ đến khuya, cho biết phải nộp tiền cho một người lạ.",
		"Người báo tin đề nghị giữ bí mật danh tính vì sợ bị gia đình trẻ trả thù.",
		"Cán bộ phường đã đến nhà nhưng gia đình không hợp tác, từ chối cho gặp trẻ.",
		"Trẻ kể với bạn học rằng bị một người quen của gia đình có hành vi sàm sỡ nhiều lần.",
		"Trẻ có biểu hiện suy dinh dưỡng, chậm phát triển so với độ tuổi, chưa được tiêm chủng đầy đủ.",
		"Nhà trường đã mời phụ huynh lên làm việc hai lần nhưng phụ huynh không đến.",
		"Trẻ bày tỏ mong muốn được tiếp tục đi học và được sống cùng mẹ.",
		"Trạm y tế xã đã khám ban đầu, ghi nhận nhiều vết thương cũ và mới ở lưng và đùi.",
		"Tổ dân phố xác nhận gia đình thường xuyên xảy ra mâu thuẫn, đã từng bị nhắc nhở.",
		"Trẻ hiện tạm thời ở nhà bà ngoại, tinh thần ổn định hơn nhưng vẫn còn lo sợ.",
		"Cuộc họp có sự tham gia của cán bộ bảo vệ trẻ em, công an xã, giáo viên và đại diện hội phụ nữ.",
		"Gia đình cam kết không tái diễn hành vi bạo lực và đồng ý tham gia các buổi tư vấn.",
	}
	loadServices = [][2]string{
		{"tư vấn tâm lý cho trẻ", "Trung tâm CTXH Hà Nội"},
		{"hỗ trợ học tập", "trường tiểu học"},
		{"khám và điều trị y tế", "trạm y tế xã"},
		{"tư vấn kỹ năng làm cha mẹ", "hội phụ nữ"},
		{"hỗ trợ chi phí sinh hoạt", "UBND xã"},
		{"hỗ trợ pháp lý", "trung tâm trợ giúp pháp lý"},
	}
)

func (l *loader) pick(from []string) string { return from[l.rng.IntN(len(from))] }

// text returns lo to hi sentences of invented case notes.
func (l *loader) text(lo, hi int) string {
	n := lo + l.rng.IntN(hi-lo+1)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = l.pick(loadSentences)
	}
	return strings.Join(parts, " ")
}

func (l *loader) personName() string {
	return l.pick(loadFamilyNames) + " " + l.pick(loadMiddleNames) + " " + l.pick(loadGivenNames)
}

func (l *loader) phone() string {
	return fmt.Sprintf("09%d%d %03d %03d", l.rng.IntN(10), l.rng.IntN(10), l.rng.IntN(1000), l.rng.IntN(1000))
}

// reportBody is a call received at at about a child in the commune with
// the given code: an intervention (which opens a case) or counselling.
func (l *loader) reportBody(at time.Time, commune string, intervention bool) *pb.Report {
	r := &pb.Report{
		Channel:             pb.Channel_CHANNEL_HOTLINE_111,
		ReceiveTime:         timestamppb.New(at),
		IncidentCommuneCode: commune,
		CallType:            pb.CallType_CALL_TYPE_COUNSELLING,
		Narrative:           l.text(2, 14),
	}
	children := 1
	if l.rng.IntN(6) == 0 {
		children += 1 + l.rng.IntN(2)
	}
	for i := 0; i < children; i++ {
		sex := []pb.Sex{pb.Sex_SEX_FEMALE, pb.Sex_SEX_MALE, pb.Sex_SEX_FEMALE, pb.Sex_SEX_MALE, pb.Sex_SEX_UNKNOWN}[l.rng.IntN(5)]
		r.Children = append(r.Children, &pb.Child{
			FullName:  l.personName(),
			Age:       &pb.Child_EstimatedAgeYears{EstimatedAgeYears: int32(l.rng.IntN(16))},
			Sex:       sex,
			Condition: l.pick(loadConditions),
		})
	}
	if !intervention {
		r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Anonymous{Anonymous: true}}
		return r
	}
	r.CallType = pb.CallType_CALL_TYPE_INTERVENTION
	r.FamilySituation = l.text(1, 3)
	r.ActionsTaken = l.text(0, 2)
	for i := 0; i < 1+l.rng.IntN(2); i++ {
		r.Caregivers = append(r.Caregivers, &pb.Caregiver{
			FullName: l.personName(), Relation: l.pick(loadRelations), Phone: l.phone(), SuspectedAbuser: i == 0 && l.rng.IntN(2) == 0,
		})
	}
	// The forms of abuse in about the proportions the hotline reports.
	x := l.rng.IntN(100)
	form := pb.AbuseForm_ABUSE_FORM_OTHER
	for _, f := range []struct {
		w    int
		form pb.AbuseForm
	}{{40, pb.AbuseForm_ABUSE_FORM_VIOLENCE}, {22, pb.AbuseForm_ABUSE_FORM_NEGLECT}, {12, pb.AbuseForm_ABUSE_FORM_SEXUAL_ABUSE},
		{8, pb.AbuseForm_ABUSE_FORM_EXPLOITATION}, {6, pb.AbuseForm_ABUSE_FORM_VIOLENCE_WITH_INJURY}, {2, pb.AbuseForm_ABUSE_FORM_TRAFFICKING}} {
		if x < f.w {
			form = f.form
			break
		}
		x -= f.w
	}
	r.SuspectedAbuse = []pb.AbuseForm{form}
	if l.rng.IntN(5) < 3 {
		r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Identified{Identified: &pb.IdentifiedReporter{
			Consent: true, FullName: l.personName(), Phone: l.phone(), RelationToChild: l.pick(loadReporters),
		}}}
	} else {
		r.Reporter = &pb.Reporter{Identity: &pb.Reporter_Anonymous{Anonymous: true}}
	}
	return r
}
