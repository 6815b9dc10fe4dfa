from components.builders.chat_answer_builder import ChatAnswerBuilder
from components.builders.cited_answer_builder import CitedAnswerBuilder
from components.builders.context_formatter import ContextFormatter
from components.builders.conversation_builder import ConversationBuilder
from components.builders.prompt_selector import PromptSelector

__all__ = ["ChatAnswerBuilder", "CitedAnswerBuilder", "ContextFormatter", "ConversationBuilder", "PromptSelector"]
